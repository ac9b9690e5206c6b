// packages/apps/base-runtime/src/lib/messenger.ts@b66bb1e8f1e0254cbf35dcd2affbbdef308bcfc4, the one
// signature the accessors use: `typeof Messenger.sendRequest`, which resolves to the host's JSON-RPC
// success object (rejecting with the error response). That file's own jsonrpc module has the
// shape of jsonrpc-lite's objects, whose types stand in for it here.
import type * as jsonrpc from 'jsonrpc-lite';

export type RequestDescriptor = Pick<jsonrpc.RequestObject, 'method' | 'params'>;

export declare function sendRequest(requestDescriptor: RequestDescriptor): Promise<jsonrpc.SuccessObject>;
