import type { IAnalyticsEvent } from '@rocket.chat/apps-engine/definition/accessors/IAnalyticsModify';

import { AnalyticsBridge } from '../../../src/server/bridges';

export class TestsAnalyticsBridge extends AnalyticsBridge {
	public logEvent(event: IAnalyticsEvent, appId: string): Promise<string> {
		throw new Error('Method not implemented.');
	}
}
