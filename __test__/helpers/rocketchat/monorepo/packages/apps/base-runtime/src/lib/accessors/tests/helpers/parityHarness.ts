// packages/apps/base-runtime/src/lib/accessors/tests/helpers/parityHarness.ts@569839fef7a5b276cf5d6fcb399205c4432b2b0c:
// createRecordingSender(responses) gives a `sender` to use as Messenger.sendRequest that records
// every request ({ method, params }, params deep-copied when sent) and resolves to a JSON-RPC
// success object whose `result` is the canned response for that method (a value, or a function of
// the call), else `null`, as the host answers a bridge that returned nothing.
import type * as Messenger from '../../../messenger';

export type RecordedCall = {
	method: string;
	params: unknown[];
};

export type CannedResponses = Record<string, unknown | ((call: RecordedCall) => unknown)>;

export function createRecordingSender(responses: CannedResponses = {}) {
	const calls: RecordedCall[] = [];
	const sender = (async ({ method, params }: Messenger.RequestDescriptor) => {
		const call: RecordedCall = { method, params: structuredClone(Array.isArray(params) ? params : []) };
		calls.push(call);
		const canned = responses[method];
		const result = typeof canned === 'function' ? (canned as (c: RecordedCall) => unknown)(call) : (canned ?? null);
		return { id: 'recording-sender', jsonrpc: '2.0', result, serialize: () => JSON.stringify({ id: 'recording-sender', jsonrpc: '2.0', result }) };
	}) as typeof Messenger.sendRequest;

	return {
		sender,
		calls,
		emitted: () => calls,
		methods: () => calls.map((c) => c.method),
	};
}
