// The slice of the WebAssembly JS API the kernel uses. Node provides it as a
// global, but TypeScript declares it only in the DOM library, which would
// bring browser globals into every module.
declare namespace WebAssembly {
  type Exports = Record<string, unknown>;
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, unknown>);
    readonly exports: Exports;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  }
}
