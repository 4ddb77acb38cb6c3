package dev.titan.core.net;

import io.netty.channel.Channel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Logging helpers for I/O errors a peer can cause, which never deserve more than debug. */
final class Log {
    private static final Logger log = LoggerFactory.getLogger("dev.titan.io");

    private Log() {
    }

    static void debugIo(Channel ch, Throwable cause) {
        if (log.isDebugEnabled()) {
            log.debug("{}: {}", ch, cause.toString());
        }
    }
}
