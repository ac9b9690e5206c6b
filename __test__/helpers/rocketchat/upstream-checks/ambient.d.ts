// The few Node.js declarations the compiled files need; the repository installs no @types/node.
// @rocket.chat/apps-engine@1.66.0's upload accessors name Node's Buffer. The pull request's runtime
// test calls node:test and node:assert, declared here with Node's signatures for those calls.
declare class Buffer extends Uint8Array {}

declare module 'node:test' {
	export function describe(name: string, fn: () => void | Promise<void>): void;
	export function it(name: string, fn: () => void | Promise<void>): void;
}

declare module 'node:assert' {
	export function strictEqual(actual: unknown, expected: unknown, message?: string): void;
	export function deepStrictEqual(actual: unknown, expected: unknown, message?: string): void;
	export function rejects(block: (() => Promise<unknown>) | Promise<unknown>, error?: RegExp | object, message?: string): Promise<void>;
}

declare function structuredClone<T>(value: T): T;
