import type { IAnalyticsEvent, IAnalyticsModify } from '@rocket.chat/apps-engine/definition/accessors';

import { bridgeCall } from '../../bridges/bridgeCall';
import type * as Messenger from '../../messenger';

export class AnalyticsModify implements IAnalyticsModify {
	constructor(private readonly senderFn: typeof Messenger.sendRequest) {}

	public async logEvent(event: IAnalyticsEvent): Promise<string | undefined> {
		// The caller's identity is the APP_ID sentinel, which the host replaces with this App's id.
		const eventId = await bridgeCall<string | null>(this.senderFn, 'getAnalyticsBridge', 'doLogEvent', event, 'APP_ID');

		// The host sends a bridge's `undefined` (the App lacks `analytics.write`) as JSON-RPC `null`.
		return eventId ?? undefined;
	}
}
