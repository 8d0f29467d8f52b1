//! Host bindings for the `palaver:apps@0.1.0` world. Another API version gets a
//! sibling module with its own `bindgen!`, so the host can serve both side by side.

wasmtime::component::bindgen!({
    path: "../wit/v0.1",
    world: "app",
    imports: { default: async },
    exports: { default: async },
});
