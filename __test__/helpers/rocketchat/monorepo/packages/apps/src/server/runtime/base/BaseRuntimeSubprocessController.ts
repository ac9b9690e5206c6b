// packages/apps/src/server/runtime/base/BaseRuntimeSubprocessController.ts after this pull request
// (read at @0a2c56135a330351fc7045a45058a5514e3adb21), reduced to how the host answers an App
// process's `bridges:<getter>:<doMethod>` request. `handleBridgeMessage` checks the method, resolves
// the bridge through `this.bridges[<getter>]`, and calls it with the App's params, where the literal
// 'APP_ID' becomes `this.appPackage.info.id`. What it throws becomes JSON-RPC error 1000 (in
// handleIncomingMessage); what the bridge throws, error -32000; `undefined` is answered as `null`.
// With jsonrpc-lite, as there. Spawning, liveness, the codec and the AppResourceBridge branch
// are not modelled.
import * as jsonrpc from 'jsonrpc-lite';

import type { AppBridges } from '../../bridges';

export class BaseRuntimeSubprocessController {
	constructor(
		private readonly bridges: AppBridges,
		protected readonly appPackage: { info: { id: string } },
	) {}

	public getAppId(): string {
		return this.appPackage.info.id;
	}

	/** handleIncomingMessage's `bridges:` branch: the response sent back to the App's process. */
	public async handleIncomingBridgeRequest(message: jsonrpc.IParsedObjectRequest): Promise<jsonrpc.SuccessObject | jsonrpc.ErrorObject> {
		try {
			return await this.handleBridgeMessage(message);
		} catch (e) {
			return jsonrpc.error(message.payload.id, new jsonrpc.JsonRpcError((e as Error).message, 1000));
		}
	}

	private async handleBridgeMessage({
		payload: { method, id, params },
	}: jsonrpc.IParsedObjectRequest): Promise<jsonrpc.SuccessObject | jsonrpc.ErrorObject> {
		const [bridgeName, bridgeMethod] = method.substring(8).split(':');

		if (!bridgeMethod.startsWith('do') || !Array.isArray(params)) {
			throw new Error('Invalid bridge request');
		}

		// The analytics bridge attributes each event to its caller and checks the caller's
		// permission and rate limit, so the caller must be the App this controller runs: its
		// id is the one substituted for the sentinel below, never one the App's process chose.
		if (bridgeName === 'getAnalyticsBridge' && params[params.length - 1] !== 'APP_ID') {
			throw new Error('Invalid bridge request');
		}

		const getter = (this.bridges as unknown as Record<string, unknown>)[bridgeName];
		if (typeof getter !== 'function') {
			throw new Error('Invalid bridge request');
		}

		const bridgeInstance = getter.call(this.bridges) as Record<string, unknown>;
		const methodRef = bridgeInstance[bridgeMethod];
		if (typeof methodRef !== 'function') {
			throw new Error('Invalid bridge request');
		}

		let result: unknown;
		try {
			result = await methodRef.apply(
				bridgeInstance,
				params.map((value: unknown) => (value === 'APP_ID' ? this.appPackage.info.id : value)),
			);
		} catch (error) {
			return jsonrpc.error(id, new jsonrpc.JsonRpcError((error as Error).message, -32000, error));
		}

		return jsonrpc.success(id, typeof result === 'undefined' ? null : (result as jsonrpc.Defined));
	}
}
