package dev.titan.core.net;

import io.netty.channel.IoOps;
import io.netty.channel.epoll.EpollIoOps;

/**
 * Works around a Netty 4.2 epoll defect (present in 4.2.13 to at least 4.2.20) that closes
 * half-closed connections: when a channel's interest set becomes empty, Netty removes its socket
 * from epoll (EPOLL_CTL_DEL, the fix for CVE-2026-42577) but still believes it is registered, so
 * the next interest it sets is an EPOLL_CTL_MOD that fails with ENOENT, and the channel closes.
 *
 * <p>An interest set becomes empty after the peer's FIN on a connection that allows half-closure
 * (input shut down, nothing to write): exactly the state of a proxied connection whose client has
 * sent its request and FIN and now waits for the answer. The answer's first write that fills the
 * socket buffer needs EPOLLOUT, fails, and the answer is cut off; so does reading again after a pause.
 *
 * <p>The empty set is replaced here by EPOLLET alone: the socket stays in epoll with no events
 * asked for, so a later interest is a plain EPOLL_CTL_MOD. What the CVE fix prevents still cannot
 * happen: epoll always reports errors and hang-ups, but edge-triggered they are reported once per
 * change, not on every wait, so the loop does not spin. Remove this class when Netty keeps the
 * registration's state right ({@code KeepEpollRegistrationTest} shows whether it does).
 */
final class KeepEpollRegistration {
    private KeepEpollRegistration() {
    }

    /** The interest to ask epoll for instead of {@code ops}: never nothing (see the class comment); {@link LoopIoHandler} applies it. */
    static IoOps interest(IoOps ops) {
        return ops instanceof EpollIoOps e && e.value() == 0 ? EpollIoOps.EPOLLET : ops;
    }
}
