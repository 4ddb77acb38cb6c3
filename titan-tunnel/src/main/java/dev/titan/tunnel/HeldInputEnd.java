package dev.titan.tunnel;

import dev.titan.core.net.EarlyInput;
import io.netty.channel.ChannelHandlerContext;
import java.util.ArrayList;
import java.util.List;

/**
 * The end of a user's input (its FIN) when it arrives while the user's stream is being opened: on
 * epoll it is read even with reading paused. It is kept here and passed on after the bytes before
 * it, once the relay is in place, so a client that sends its request and half-closes is answered.
 */
final class HeldInputEnd {
    private final List<Object> events = new ArrayList<>(2);

    /** Keeps {@code evt} if it ends the input; true if it was kept. */
    boolean hold(Object evt) {
        if (!EarlyInput.isEndOfInput(evt)) {
            return false;
        }
        events.add(evt);
        return true;
    }

    /** Passes what was kept on from {@code ctx}, in order. */
    void passOn(ChannelHandlerContext ctx) {
        for (Object end : events) {
            ctx.fireUserEventTriggered(end);
        }
        events.clear();
    }
}
