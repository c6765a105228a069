import java.util.Arrays;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.shared.SharedValue;
import org.apache.curator.framework.recipes.shared.SharedValueListener;
import org.apache.curator.framework.recipes.shared.SharedValueReader;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.RetryOneTime;

/**
 * Times Apache Curator's SharedValue and InterProcessMutex recipes for the zkstruct
 * round-trip bench.
 *
 * <p>Usage: {@code CuratorPeer SERVERS ROOT RECIPE WARMUP ITERATIONS PAYLOAD_BYTES}. RECIPE is
 * "sharedvalue" (a set on one session until a SharedValue listener on a second session has the
 * value) or "mutex" (InterProcessMutex acquire, set, release on one session). Prints one JSON
 * object, {"recipe": RECIPE, "nanos": [...]}, with one duration per iteration after the
 * warm-up, timed with System.nanoTime.
 */
public final class CuratorPeer {
    private static final int TIMEOUT_SECONDS = 30;

    private CuratorPeer() {}

    public static void main(String[] args) throws Exception {
        String servers = args[0];
        String recipe = args[2];
        String root = args[1] + "/" + recipe;
        int warmup = Integer.parseInt(args[3]);
        int iterations = Integer.parseInt(args[4]);
        int payloadBytes = Integer.parseInt(args[5]);

        long[] nanos;
        switch (recipe) {
            case "sharedvalue":
                nanos = timeSharedValue(servers, root, warmup + iterations, payloadBytes);
                break;
            case "mutex":
                nanos = timeMutex(servers, root, warmup + iterations, payloadBytes);
                break;
            default:
                throw new IllegalArgumentException("unknown recipe " + recipe + "; expected sharedvalue or mutex");
        }
        StringBuilder json = new StringBuilder("{\"recipe\": \"").append(recipe).append("\", \"nanos\": [");
        for (int index = warmup; index < nanos.length; index++) {
            json.append(index > warmup ? ", " : "").append(nanos[index]);
        }
        System.out.println(json.append("]}"));
    }

    private static CuratorFramework connect(String servers) throws InterruptedException {
        CuratorFramework client = CuratorFrameworkFactory.newClient(servers, new RetryOneTime(100));
        client.start();
        if (!client.blockUntilConnected(15, TimeUnit.SECONDS)) {
            throw new IllegalStateException("no connection to " + servers + " within 15 s");
        }
        return client;
    }

    /** Returns a payload of the given size whose first bytes are the round number. */
    private static byte[] payload(int round, int size) {
        byte[] bytes = new byte[Math.max(size, 12)];
        Arrays.fill(bytes, (byte) 'x');
        byte[] number = String.format("%010d", round).getBytes();
        System.arraycopy(number, 0, bytes, 0, number.length);
        return bytes;
    }

    private static long[] timeSharedValue(String servers, String root, int rounds, int size) throws Exception {
        CuratorFramework writer = connect(servers);
        CuratorFramework reader = connect(servers);
        String path = root + "/payload";
        writer.create().orSetData().creatingParentsIfNeeded().forPath(path, payload(-1, size));

        LinkedBlockingQueue<Object[]> arrivals = new LinkedBlockingQueue<>();
        SharedValue value = new SharedValue(reader, path, payload(-1, size));
        value.getListenable().addListener(new SharedValueListener() {
            @Override
            public void valueHasChanged(SharedValueReader source, byte[] newValue) {
                arrivals.add(new Object[] {System.nanoTime(), newValue});
            }

            @Override
            public void stateChanged(CuratorFramework client, ConnectionState state) {}
        });
        value.start();

        long[] nanos = new long[rounds];
        for (int round = 0; round < rounds; round++) {
            byte[] bytes = payload(round, size);
            long start = System.nanoTime();
            writer.setData().forPath(path, bytes);
            while (true) {
                Object[] arrival = arrivals.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS);
                if (arrival == null) {
                    throw new IllegalStateException("no SharedValue change within " + TIMEOUT_SECONDS + " s");
                }
                if (Arrays.equals((byte[]) arrival[1], bytes)) {
                    nanos[round] = (Long) arrival[0] - start;
                    break;
                }
            }
        }
        value.close();
        writer.close();
        reader.close();
        return nanos;
    }

    private static long[] timeMutex(String servers, String root, int rounds, int size) throws Exception {
        CuratorFramework client = connect(servers);
        String path = root + "/payload";
        client.create().orSetData().creatingParentsIfNeeded().forPath(path, payload(-1, size));
        InterProcessMutex mutex = new InterProcessMutex(client, root + "/lock");

        long[] nanos = new long[rounds];
        for (int round = 0; round < rounds; round++) {
            byte[] bytes = payload(round, size);
            long start = System.nanoTime();
            if (!mutex.acquire(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                throw new IllegalStateException("no lock within " + TIMEOUT_SECONDS + " s");
            }
            try {
                client.setData().forPath(path, bytes);
            } finally {
                mutex.release();
            }
            nanos[round] = System.nanoTime() - start;
        }
        client.close();
        return nanos;
    }
}
