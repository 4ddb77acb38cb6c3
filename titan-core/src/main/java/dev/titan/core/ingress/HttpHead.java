package dev.titan.core.ingress;

import io.netty.buffer.ByteBuf;
import io.netty.util.ByteProcessor;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The head of an HTTP/1.x request, read strictly because a router that routes by Host must see
 * the request the way the service behind it will: a head another parser could read differently
 * (two Host headers, whitespace before a colon, folded lines, Content-Length with
 * Transfer-Encoding, lines ended by a bare LF) is refused with 400 rather than relayed.
 */
public record HttpHead(String startLine, List<String[]> headers, int length) {
    /** The largest head read; a larger one is answered 431. */
    public static final int MAX_LENGTH = 16 * 1024;

    /**
     * The head at {@code in}'s reader index, or null while it is incomplete; nothing is consumed.
     * {@link #length} counts the head up to and including its blank line.
     */
    public static HttpHead read(ByteBuf in) throws Ingress.Malformed {
        return read(in, false);
    }

    /** As {@link #read}, for a response head (a status line first). */
    public static HttpHead readResponse(ByteBuf in) throws Ingress.Malformed {
        return read(in, true);
    }

    private static HttpHead read(ByteBuf in, boolean response) throws Ingress.Malformed {
        int start = in.readerIndex();
        int limit = Math.min(in.readableBytes(), MAX_LENGTH);
        int[] state = {0}; // 0: in a line, 1: after CR, 2: after CRLF, 3: after CRLF CR
        int[] bareLf = {0}; // 1: a bare LF, 2: a bare CR
        int i = in.forEachByte(start, limit, (ByteProcessor) b -> {
            switch (b) {
                case '\r' -> state[0] = state[0] == 2 ? 3 : 1;
                case '\n' -> {
                    if (state[0] == 1) {
                        state[0] = 2;
                    } else if (state[0] == 3) {
                        return false; // the blank line: end of head
                    } else {
                        bareLf[0] = 1;
                        return false;
                    }
                }
                default -> {
                    if (state[0] == 1 || state[0] == 3) {
                        bareLf[0] = 2;
                        return false;
                    }
                    state[0] = 0;
                }
            }
            return true;
        });
        if (bareLf[0] != 0) {
            throw new Ingress.Malformed(400, bareLf[0] == 1 ? "a line ends with a bare LF" : "a bare CR in the head");
        }
        if (i < 0) {
            if (in.readableBytes() >= MAX_LENGTH) {
                throw new Ingress.Malformed(431, "request head larger than " + MAX_LENGTH + " bytes");
            }
            return null;
        }
        int length = i - start + 1;
        return parse(in.toString(start, length - 4, StandardCharsets.ISO_8859_1), length, response);
    }

    private static HttpHead parse(String text, int length, boolean response) throws Ingress.Malformed {
        String[] lines = text.split("\r\n", -1);
        String[] start = lines[0].split(" ", response ? 3 : -1);
        boolean ok = response
                ? start.length >= 2 && start[0].matches("HTTP/1\\.[01]") && start[1].matches("[1-5][0-9][0-9]")
                : start.length == 3 && isToken(start[0]) && !start[1].isEmpty() && start[2].matches("HTTP/1\\.[01]");
        if (!ok) {
            throw new Ingress.Malformed(400, response ? "not an HTTP/1 status line" : "not an HTTP/1 request line");
        }
        List<String[]> headers = new ArrayList<>(lines.length - 1);
        for (int n = 1; n < lines.length; n++) {
            String line = lines[n];
            if (line.startsWith(" ") || line.startsWith("\t")) {
                throw new Ingress.Malformed(400, "a folded header line");
            }
            int colon = line.indexOf(':');
            if (colon <= 0 || !isToken(line.substring(0, colon))) {
                throw new Ingress.Malformed(400, colon < 0 ? "a header line without a colon" : "a header name with whitespace or a separator");
            }
            headers.add(new String[] {line.substring(0, colon), line.substring(colon + 1).strip()});
        }
        HttpHead head = new HttpHead(lines[0], List.copyOf(headers), length);
        if (!response) {
            head.check();
        }
        return head;
    }

    /** Refuses what two readers of this head could disagree on. */
    private void check() throws Ingress.Malformed {
        if (count("host") > 1) {
            throw new Ingress.Malformed(400, "two Host headers");
        }
        if (count("host") == 0 && version().equals("HTTP/1.1")) {
            throw new Ingress.Malformed(400, "no Host header");
        }
        if (count("transfer-encoding") > 0 && count("content-length") > 0) {
            throw new Ingress.Malformed(400, "Content-Length together with Transfer-Encoding");
        }
        String cl = null;
        for (String[] h : headers) {
            if (h[0].equalsIgnoreCase("content-length")) {
                if (!h[1].matches("[0-9]{1,18}") || (cl != null && !cl.equals(h[1]))) {
                    throw new Ingress.Malformed(400, "an invalid or repeated Content-Length");
                }
                cl = h[1];
            }
        }
    }

    private int count(String name) {
        int n = 0;
        for (String[] h : headers) {
            if (h[0].equalsIgnoreCase(name)) {
                n++;
            }
        }
        return n;
    }

    /** A request's method. */
    public String method() {
        return startLine.substring(0, startLine.indexOf(' '));
    }

    /** A request's target; a response's status code. */
    public String target() {
        return startLine.substring(startLine.indexOf(' ') + 1, startLine.lastIndexOf(' '));
    }

    /** A request's version (HTTP/1.0 or HTTP/1.1). */
    public String version() {
        return startLine.substring(startLine.lastIndexOf(' ') + 1);
    }

    /** A response's status code. */
    public int status() {
        return Integer.parseInt(startLine.substring(startLine.indexOf(' ') + 1, startLine.indexOf(' ') + 4));
    }

    /** The value of the first header {@code name} (any case), or null. */
    public String header(String name) {
        for (String[] h : headers) {
            if (h[0].equalsIgnoreCase(name)) {
                return h[1];
            }
        }
        return null;
    }

    /** The Host header's name without its port, lower case; null if none. */
    public String host() {
        String h = header("host");
        return h == null || h.isEmpty() ? null : stripPort(h).toLowerCase(Locale.ROOT);
    }

    /** The target's path, without its query. */
    public String path() {
        String t = target();
        int q = t.indexOf('?');
        return q >= 0 ? t.substring(0, q) : t;
    }

    /** Whether a header's comma-separated value contains {@code token} (any case). */
    public boolean hasToken(String name, String token) {
        String v = header(name);
        if (v == null) {
            return false;
        }
        for (String part : v.split(",")) {
            if (part.strip().equalsIgnoreCase(token)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The head as it goes on: X-Forwarded-For appended to (or added) with {@code from}'s address
     * (none when null), X-Forwarded-Proto and X-Forwarded-Host set by this hop, whatever the
     * client sent for them.
     */
    public String forwarded(InetSocketAddress from, boolean secure) {
        String ip = from == null ? null : from.getAddress().getHostAddress();
        StringBuilder b = new StringBuilder(length + 96).append(startLine).append("\r\n");
        boolean sawFor = false;
        for (String[] h : headers) {
            String name = h[0].toLowerCase(Locale.ROOT);
            if (name.equals("x-forwarded-for") && ip != null) {
                b.append(h[0]).append(": ").append(h[1]).append(", ").append(ip).append("\r\n");
                sawFor = true;
            } else if (!name.equals("x-forwarded-proto") && !name.equals("x-forwarded-host")) {
                b.append(h[0]).append(": ").append(h[1]).append("\r\n");
            }
        }
        if (!sawFor && ip != null) {
            b.append("X-Forwarded-For: ").append(ip).append("\r\n");
        }
        b.append("X-Forwarded-Proto: ").append(secure ? "https" : "http").append("\r\n");
        String host = header("host");
        if (host != null) {
            b.append("X-Forwarded-Host: ").append(host).append("\r\n");
        }
        return b.append("\r\n").toString();
    }

    static String stripPort(String host) {
        if (host.startsWith("[")) { // [v6]:port
            int close = host.indexOf(']');
            return close > 0 ? host.substring(1, close) : host;
        }
        int colon = host.lastIndexOf(':');
        return colon > 0 && host.indexOf(':') == colon ? host.substring(0, colon) : host;
    }

    private static boolean isToken(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
            if (!ok) {
                return false;
            }
        }
        return !s.isEmpty();
    }
}
