// packages/apps/base-runtime/src/lib/bridges/bridgeCall.ts after this pull request (read at
// @3a4b41a3f47300bdbc767315a10115aeefeda032). bridgeCall(senderFn, bridge, method, ...params) sends
// one `bridges:<bridge>:<method>` request with the params exactly as given (it never adds the
// 'APP_ID' sentinel itself: each accessor passes it where the bridge takes the caller's id),
// resolves to the response's `result`, and rejects with formatErrorResponse of the failure.
// BridgeName is the closed list of that version, and the name the pull request appends.
import { formatErrorResponse } from '../accessors/formatResponseErrorHandler';
import type * as Messenger from '../messenger';

export type BridgeName =
	| 'getMessageBridge'
	| 'getRoomBridge'
	| 'getUserBridge'
	| 'getLivechatBridge'
	| 'getVideoConferenceBridge'
	| 'getHttpBridge'
	| 'getInternalBridge'
	| 'getPersistenceBridge'
	| 'getUploadBridge'
	| 'getCloudWorkspaceBridge'
	| 'getOAuthAppsBridge'
	| 'getContactBridge'
	| 'getThreadBridge'
	| 'getRoleBridge'
	| 'getExperimentalBridge'
	| 'getServerSettingBridge'
	| 'getEnvironmentalVariableBridge'
	| 'getSchedulerBridge'
	| 'getModerationBridge'
	| 'getEmailBridge'
	| 'getUiInteractionBridge'
	| 'getAppResourceBridge'
	| 'getAnalyticsBridge';

export async function bridgeCall<T = unknown>(
	senderFn: typeof Messenger.sendRequest,
	bridge: BridgeName,
	method: `do${string}`,
	...params: unknown[]
): Promise<T> {
	let response;
	try {
		response = await senderFn({ method: `bridges:${bridge}:${method}`, params });
	} catch (error) {
		throw formatErrorResponse(error);
	}
	return response.result as T;
}
