/*
 * C2cOpenSearchNode: a real OpenSearch 2.19 single node started from Maven Central jars, for
 * c2c's tests.
 *
 * Why this exists: c2c's tests must run against a genuine OpenSearch (same REST API, mappings,
 * aggregations, bulk and scripting semantics as production), but the machines that run them can
 * reach only package registries, so the distribution tarball cannot be downloaded. OpenSearch
 * publishes its server and its bundled modules as jars on Maven Central; this class boots
 * org.opensearch.node.Node with the modules a client needs (Netty HTTP/transport, the common
 * analyzers and Painless) loaded as classpath plugins, the same way OpenSearch's own integration
 * test framework (MockNode) does.
 *
 * Usage: java -cp 'lib/*' org.c2c.opensearch.C2cOpenSearchNode HOME HTTP_PORT TRANSPORT_PORT [key=value ...]
 *   HOME            a scratch directory: config/, data/ and logs/ are created under it
 *   HTTP_PORT       REST port, bound on 127.0.0.1
 *   TRANSPORT_PORT  node-to-node port (unused by clients, but the node must bind one)
 *   key=value       extra node settings, applied last (they override the defaults below)
 *
 * It prints one "c2c-opensearch: started ..." line once the node accepts requests, and closes the
 * node cleanly on SIGTERM. Started by c2c_dagster_tests/services/opensearch.py.
 */
package org.c2c.opensearch;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LoggerContext;
import org.opensearch.Version;
import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.cluster.service.ClusterService;
import org.opensearch.common.settings.Settings;
import org.opensearch.core.common.transport.TransportAddress;
import org.opensearch.env.Environment;
import org.opensearch.http.HttpServerTransport;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

public final class C2cOpenSearchNode extends Node {

    /** The modules a distribution would load from modules/, here loaded from the classpath. */
    private static final List<Class<? extends Plugin>> PLUGINS = List.of(
        Netty4Plugin.class,          // HTTP + transport: without it there is no REST endpoint
        CommonAnalysisPlugin.class,  // standard analyzers/tokenizers/filters
        PainlessPlugin.class         // scripted updates and script queries
    );

    private C2cOpenSearchNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
        // true = forbidPrivateIndexSettings, as the distribution's Node(Environment) passes:
        // clients may not set internal index.* settings, exactly as in production.
        super(environment, plugins, true);
    }

    /**
     * Left empty on purpose, as OpenSearch's MockNode does: the default registers a listener that
     * pushes node and cluster ids into log4j's pattern converters, which are set-once statics
     * meant for the distribution's logging setup; we log with a plain pattern instead.
     */
    @Override
    protected void configureNodeAndClusterIdStateListener(ClusterService clusterService) {}

    public static void main(String[] args) throws Exception {
        // Must happen before log4j initialises: our shutdown hook closes the node first and then
        // stops logging itself, so log4j must not race us with its own hook. The 2.x launcher
        // passes both as -D flags (so does our jvm.args); set here too for a bare `java` run.
        System.setProperty("log4j.shutdownHookEnabled", "false");
        System.setProperty("log4j2.disable.jmx", "true");

        if (args.length < 3) {
            System.err.println("usage: C2cOpenSearchNode HOME HTTP_PORT TRANSPORT_PORT [key=value ...]");
            System.exit(2);
        }
        Path home = Paths.get(args[0]).toAbsolutePath();
        Path config = Files.createDirectories(home.resolve("config"));

        Settings.Builder settings = Settings.builder()
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("cluster.name", "c2c-test")
            .put("node.name", "c2c-test-node")
            // One node, no discovery: it elects itself and replicas simply stay unassigned.
            .put("discovery.type", "single-node")
            // Loopback only: tests must never expose a server beyond this machine.
            .put("network.host", "127.0.0.1")
            .put("http.port", args[1])
            .put("transport.port", args[2])
            // A nearly full test disk must not flip indices read-only or block shard allocation.
            .put("cluster.routing.allocation.disk.threshold_enabled", false);
        for (int i = 3; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            if (eq <= 0) {
                System.err.println("expected key=value, got: " + args[i]);
                System.exit(2);
            }
            settings.put(args[i].substring(0, eq), args[i].substring(eq + 1));
        }

        // Logging: log4j configures itself from the log4j2.properties in this jar (stdout, INFO).
        // Deliberately not LogConfigurator.configureWithoutConfig(): that replaces the whole
        // configuration with one that has no root logger, i.e. ERROR only, and the node's
        // startup log is what a failing test needs to show.

        Environment environment =
            InternalSettingsPreparer.prepareEnvironment(settings.build(), Map.of(), config, () -> "c2c-test-node");
        CountDownLatch closed = new CountDownLatch(1);
        try {
            Node node = new C2cOpenSearchNode(environment, PLUGINS);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    node.close();
                    node.awaitClose(20, TimeUnit.SECONDS);
                } catch (Exception e) {
                    e.printStackTrace();
                } finally {
                    closed.countDown();
                    LoggerContext context = (LoggerContext) LogManager.getContext(false);
                    context.stop();
                }
            }, "c2c-opensearch-shutdown"));

            node.start();
            TransportAddress http = node.injector().getInstance(HttpServerTransport.class).boundAddress().publishAddress();
            System.out.println("c2c-opensearch: started version=" + Version.CURRENT + " http=" + http + " home=" + home);
            System.out.flush();
        } catch (Throwable failure) {
            // The node's non-daemon threads would otherwise keep a half-started JVM alive (e.g.
            // after a port clash) and the caller would wait for its timeout instead of failing now.
            failure.printStackTrace();
            System.exit(1);
        }

        // The node's own threads keep the JVM alive; waiting here just makes that explicit.
        closed.await();
    }
}
