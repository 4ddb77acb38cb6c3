package dev.titan.core.net;

import io.netty.channel.AbstractChannel;
import io.netty.channel.Channel;
import io.netty.channel.ChannelMetadata;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.uring.IoUringIoHandle;

/**
 * What Titan's io_uring channels share: their metadata, and the registration of their completion
 * handler with an io_uring loop, and its end. The ring goes on delivering the completions of operations still in flight
 * after the registration is cancelled, so that each can free its memory.
 */
abstract class UringChannel extends AbstractChannel {
    private static final ChannelMetadata METADATA = new ChannelMetadata(false, 16);

    /** The loop's ring for this channel; null until registered. */
    IoRegistration registration;

    UringChannel(Channel parent) {
        super(parent);
    }

    /** The channel's completion handler. */
    abstract IoUringIoHandle handle();

    @Override
    public final ChannelMetadata metadata() {
        return METADATA;
    }

    @Override
    protected final boolean isCompatible(EventLoop loop) {
        return loop instanceof IoEventLoop io && io.isCompatible(IoUringIoHandle.class);
    }

    @Override
    protected final void doRegister(ChannelPromise promise) {
        ((IoEventLoop) eventLoop()).register(handle()).addListener(f -> {
            if (f.isSuccess()) {
                registration = (IoRegistration) f.getNow();
                promise.setSuccess();
            } else {
                promise.setFailure(f.cause());
            }
        });
    }

    @Override
    protected final void doDeregister() {
        if (registration != null) {
            registration.cancel();
        }
    }
}
