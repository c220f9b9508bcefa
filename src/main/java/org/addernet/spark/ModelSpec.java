package org.addernet.spark;

import java.io.Serializable;
import org.addernet.engine.Engine;
import org.addernet.model.Model;
import org.addernet.model.Models;

/** What an executor needs to build its copy of the model: small, so it travels in task closures. */
public record ModelSpec(String arch, boolean adder, int classes, int threads, String kernels) implements Serializable {
    public Model build(Engine engine) {
        // The seed is irrelevant: the weights always come from the driver's broadcast.
        return Models.create(arch, adder, classes, engine, 0);
    }
}
