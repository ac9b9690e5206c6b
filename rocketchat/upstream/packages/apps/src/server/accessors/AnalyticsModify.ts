import type { IAnalyticsEvent, IAnalyticsModify } from '@rocket.chat/apps-engine/definition/accessors/IAnalyticsModify';

import type { AnalyticsBridge } from '../bridges/AnalyticsBridge';

export class AnalyticsModify implements IAnalyticsModify {
	constructor(
		private readonly analyticsBridge: AnalyticsBridge,
		private readonly appId: string,
	) {}

	public async logEvent(event: IAnalyticsEvent): Promise<string | undefined> {
		return this.analyticsBridge.doLogEvent(event, this.appId);
	}
}
