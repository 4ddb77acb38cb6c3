package dev.titan.app;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.FileAppender;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.encoder.Encoder;
import dev.titan.core.config.TitanConfig;
import java.util.Locale;
import org.slf4j.LoggerFactory;

/** Applies the {@code logging} block: level, per-package levels, text or JSON, stdout, stderr or a file. */
final class LoggingSetup {
    private LoggingSetup() {
    }

    static void apply(TitanConfig.Logging cfg) {
        LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
        ctx.reset();
        Encoder<ILoggingEvent> encoder;
        if (cfg.format().equals("json")) {
            JsonEncoder json = new JsonEncoder();
            json.setWithArguments(false);
            json.setWithSequenceNumber(false);
            json.setWithNanoseconds(false);
            encoder = json;
        } else {
            PatternLayoutEncoder text = new PatternLayoutEncoder();
            text.setPattern("%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX} %-5level [%thread] %logger{24} - %msg%n");
            encoder = text;
        }
        encoder.setContext(ctx);
        encoder.start();
        OutputStreamAppender<ILoggingEvent> appender;
        switch (cfg.output()) {
            case "stdout", "stderr" -> {
                ConsoleAppender<ILoggingEvent> console = new ConsoleAppender<>();
                console.setTarget(cfg.output().equals("stdout") ? "System.out" : "System.err");
                appender = console;
            }
            default -> {
                FileAppender<ILoggingEvent> file = new FileAppender<>();
                file.setFile(cfg.output());
                file.setAppend(true);
                appender = file;
            }
        }
        appender.setName("titan");
        appender.setContext(ctx);
        appender.setEncoder(encoder);
        appender.start();
        Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
        root.addAppender(appender);
        root.setLevel(level(cfg.level()));
        ctx.getLogger("io.netty").setLevel(Level.WARN);
        cfg.levels().forEach((pkg, lvl) -> ctx.getLogger(pkg).setLevel(level(lvl)));
    }

    private static Level level(String s) {
        return Level.toLevel(s.toUpperCase(Locale.ROOT), Level.INFO);
    }
}
