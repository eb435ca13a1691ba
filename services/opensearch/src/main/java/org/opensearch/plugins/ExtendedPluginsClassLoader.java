/*
 * The loader OpenSearch's PluginsService gives a plugin installed under plugins/ as its parent:
 * the server's loader plus the loaders of the plugins it extends. The distribution ships it in
 * lib/opensearch-plugin-classloader-*.jar, which is not published on Maven Central, so the test
 * node (services/opensearch) carries this equivalent of it for the security plugin of the secured
 * test node. Same package, name and factory method as the server calls (PluginsService.loadBundle).
 */
package org.opensearch.plugins;

import java.util.List;

public final class ExtendedPluginsClassLoader extends ClassLoader {

    private final List<ClassLoader> extendedLoaders;

    private ExtendedPluginsClassLoader(ClassLoader parent, List<ClassLoader> extendedLoaders) {
        super(parent);
        this.extendedLoaders = List.copyOf(extendedLoaders);
    }

    /** Called only when the parent (the server) lacks the class: try each extended plugin. */
    @Override
    protected Class<?> findClass(String name) throws ClassNotFoundException {
        for (ClassLoader loader : extendedLoaders) {
            try {
                return loader.loadClass(name);
            } catch (ClassNotFoundException e) {
                // not in this one: the next, then fail below
            }
        }
        throw new ClassNotFoundException(name);
    }

    public static ExtendedPluginsClassLoader create(ClassLoader parent, List<ClassLoader> extendedLoaders) {
        return new ExtendedPluginsClassLoader(parent, extendedLoaders);
    }
}
