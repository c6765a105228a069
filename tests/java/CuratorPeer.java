import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.data.Stat;

/**
 * Runs one Apache Curator recipe against a ZooKeeper server, as a foreign client in
 * zkstruct's interoperability tests.
 *
 * <p>Usage: {@code CuratorPeer <connect string> <command> <arguments...>}. The process prints
 * one line per result on standard output:
 *
 * <ul>
 *   <li>{@code hold <lock path>}: acquires an {@link InterProcessMutex} on the path, prints
 *       {@code acquired <lock node>}, holds the lock until standard input closes, then
 *       releases it and prints {@code released}.
 *   <li>{@code try-acquire <lock path> <timeout ms>}: prints {@code acquired <lock node>} and,
 *       after releasing, {@code released}; or prints {@code timeout}.
 *   <li>{@code watch <path>}: follows the node with a {@link CuratorCache}. Prints
 *       {@code data <version> <content>} for the content at start and for each change,
 *       {@code deleted} when the node is deleted, and {@code ready} once the cache has loaded
 *       the node. Runs until standard input closes.
 *   <li>{@code set <path> <content>}: writes the node without a lock or a version check and
 *       prints {@code set <version>}.
 *   <li>{@code locked-set <lock path> <path> <content>}: writes as a foreign writer that
 *       follows zkstruct's protocol. It holds the mutex while it reads the node's version and
 *       writes with a compare-and-set on that version, then prints {@code set <version>}.
 *   <li>{@code increment <lock path> <path> <field> <times>}: adds 1 to an integer field of
 *       the JSON object in the node, {@code times} times, each under the mutex. The write has
 *       no version check, so only the mutex keeps another writer's increments from being
 *       lost. Prints {@code incremented <times>}.
 * </ul>
 *
 * <p>Contents are UTF-8 and must fit on one line. A failure prints a stack trace on standard
 * error and exits with status 1.
 */
public final class CuratorPeer {
    private static final int SESSION_TIMEOUT_MS = 10_000;
    private static final int CONNECTION_TIMEOUT_MS = 5_000;
    private static final long CONNECT_WAIT_SECONDS = 30;
    private static final long LOCK_WAIT_SECONDS = 30;

    private static final PrintStream OUT =
            new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);

    /** An {@link InterProcessMutex} that exposes the path of the lock node it holds. */
    private static final class Mutex extends InterProcessMutex {
        Mutex(CuratorFramework client, String path) {
            super(client, path);
        }

        /** Returns the full path of the node the calling thread holds the lock with. */
        String lockNode() {
            return getLockPath();
        }
    }

    public static void main(String[] args) {
        if (args.length < 2) {
            usage("expected a connect string and a command");
        }
        int status;
        try (CuratorFramework client = connect(args[0])) {
            status = run(client, args[1], Arrays.copyOfRange(args, 2, args.length));
        } catch (Exception e) {
            e.printStackTrace();
            status = 1;
        }
        // Curator's and ZooKeeper's threads must not keep the process alive.
        System.exit(status);
    }

    private static CuratorFramework connect(String servers) throws InterruptedException {
        CuratorFramework client = CuratorFrameworkFactory.newClient(
                servers, SESSION_TIMEOUT_MS, CONNECTION_TIMEOUT_MS, new RetryNTimes(10, 200));
        client.start();
        if (!client.blockUntilConnected((int) CONNECT_WAIT_SECONDS, TimeUnit.SECONDS)) {
            throw new IllegalStateException(
                    "timed out after " + CONNECT_WAIT_SECONDS + " s connecting to " + servers);
        }
        return client;
    }

    private static int run(CuratorFramework client, String command, String[] args) throws Exception {
        switch (command) {
            case "hold":
                expectArgs(command, args, 1);
                hold(client, args[0]);
                return 0;
            case "try-acquire":
                expectArgs(command, args, 2);
                tryAcquire(client, args[0], Long.parseLong(args[1]));
                return 0;
            case "watch":
                expectArgs(command, args, 1);
                watch(client, args[0]);
                return 0;
            case "set":
                expectArgs(command, args, 2);
                Stat stat = client.setData().forPath(args[0], bytes(args[1]));
                OUT.println("set " + stat.getVersion());
                return 0;
            case "locked-set":
                expectArgs(command, args, 3);
                lockedSet(client, args[0], args[1], args[2]);
                return 0;
            case "increment":
                expectArgs(command, args, 4);
                increment(client, args[0], args[1], args[2], Integer.parseInt(args[3]));
                return 0;
            default:
                usage("unknown command: " + command);
                return 2;
        }
    }

    private static void hold(CuratorFramework client, String lockPath) throws Exception {
        Mutex mutex = new Mutex(client, lockPath);
        mutex.acquire();
        OUT.println("acquired " + mutex.lockNode());
        awaitStdinClosed();
        mutex.release();
        OUT.println("released");
    }

    private static void tryAcquire(CuratorFramework client, String lockPath, long timeoutMs)
            throws Exception {
        Mutex mutex = new Mutex(client, lockPath);
        if (!mutex.acquire(timeoutMs, TimeUnit.MILLISECONDS)) {
            OUT.println("timeout");
            return;
        }
        OUT.println("acquired " + mutex.lockNode());
        mutex.release();
        OUT.println("released");
    }

    private static void watch(CuratorFramework client, String path) throws IOException {
        try (CuratorCache cache =
                CuratorCache.build(client, path, CuratorCache.Options.SINGLE_NODE_CACHE)) {
            CuratorCacheListener listener = CuratorCacheListener.builder()
                    .forCreates(CuratorPeer::printData)
                    .forChanges((before, after) -> printData(after))
                    .forDeletes(node -> OUT.println("deleted"))
                    .forInitialized(() -> OUT.println("ready"))
                    .build();
            cache.listenable().addListener(listener);
            cache.start();
            awaitStdinClosed();
        }
    }

    private static void lockedSet(CuratorFramework client, String lockPath, String path, String content)
            throws Exception {
        Mutex mutex = new Mutex(client, lockPath);
        acquire(mutex, lockPath);
        try {
            Stat current = new Stat();
            client.getData().storingStatIn(current).forPath(path);
            Stat written = client.setData().withVersion(current.getVersion()).forPath(path, bytes(content));
            OUT.println("set " + written.getVersion());
        } finally {
            mutex.release();
        }
    }

    private static void increment(
            CuratorFramework client, String lockPath, String path, String field, int times)
            throws Exception {
        Pattern number = Pattern.compile("\"" + Pattern.quote(field) + "\"\\s*:\\s*(\\d+)");
        Mutex mutex = new Mutex(client, lockPath);
        for (int i = 0; i < times; i++) {
            acquire(mutex, lockPath);
            try {
                String content =
                        new String(client.getData().forPath(path), StandardCharsets.UTF_8);
                Matcher matcher = number.matcher(content);
                if (!matcher.find()) {
                    throw new IllegalStateException(
                            "missing integer field " + field + " in " + path + ": " + content);
                }
                long next = Long.parseLong(matcher.group(1)) + 1;
                String updated = content.substring(0, matcher.start(1)) + next
                        + content.substring(matcher.end(1));
                client.setData().forPath(path, bytes(updated));
            } finally {
                mutex.release();
            }
        }
        OUT.println("incremented " + times);
    }

    private static void acquire(Mutex mutex, String lockPath) throws Exception {
        if (!mutex.acquire(LOCK_WAIT_SECONDS, TimeUnit.SECONDS)) {
            throw new IllegalStateException(
                    "timed out after " + LOCK_WAIT_SECONDS + " s waiting for lock " + lockPath);
        }
    }

    private static void printData(ChildData node) {
        String content = new String(node.getData(), StandardCharsets.UTF_8);
        OUT.println("data " + node.getStat().getVersion() + " " + content);
    }

    private static byte[] bytes(String content) {
        return content.getBytes(StandardCharsets.UTF_8);
    }

    private static void awaitStdinClosed() throws IOException {
        byte[] buffer = new byte[256];
        while (System.in.read(buffer) != -1) {
            // Only the end of input matters, so its bytes are discarded.
        }
    }

    private static void expectArgs(String command, String[] args, int count) {
        if (args.length != count) {
            usage(command + " expects " + count + " arguments, got " + args.length);
        }
    }

    private static void usage(String problem) {
        System.err.println("CuratorPeer: " + problem);
        System.err.println("usage: CuratorPeer <connect string> hold <lock path>");
        System.err.println("       CuratorPeer <connect string> try-acquire <lock path> <timeout ms>");
        System.err.println("       CuratorPeer <connect string> watch <path>");
        System.err.println("       CuratorPeer <connect string> set <path> <content>");
        System.err.println("       CuratorPeer <connect string> locked-set <lock path> <path> <content>");
        System.err.println(
                "       CuratorPeer <connect string> increment <lock path> <path> <field> <times>");
        System.exit(2);
    }
}
