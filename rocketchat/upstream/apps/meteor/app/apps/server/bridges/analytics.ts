import type { IAppServerOrchestrator } from '@rocket.chat/apps';
import { AnalyticsBridge } from '@rocket.chat/apps/dist/server/bridges/AnalyticsBridge';
import type { IAnalyticsEvent } from '@rocket.chat/apps-engine/definition/accessors';
import { AppsEngineBridge } from 'rocketchat-sns-analytics';
import type { AnalyticsLogger } from 'rocketchat-sns-analytics';

import { snsAnalytics } from '../../../../server/lib/snsAnalytics';

export class AppAnalyticsBridge extends AnalyticsBridge {
	// The package's bridge for the running logger. It holds each App's rate limit, so it lives as long
	// as that logger does: a settings change reconfigures the same logger, while switching analytics
	// off and on again makes a new one.
	private current: { logger: AnalyticsLogger; bridge: AppsEngineBridge } | undefined;

	constructor(private readonly orch: IAppServerOrchestrator) {
		super();
	}

	protected async logEvent(event: IAnalyticsEvent, appId: string): Promise<string> {
		this.orch.debugLog(`The App ${appId} is logging an analytics event`);

		const { logger } = snsAnalytics;
		if (!logger) {
			throw new Error('SNS analytics are switched off (SNS_Analytics_Enabled)');
		}

		if (this.current?.logger !== logger) {
			// No permission check of its own: AnalyticsBridge.doLogEvent has checked analytics.write.
			this.current = { logger, bridge: new AppsEngineBridge(logger) };
		}

		return this.current.bridge.doLogEvent(event, appId);
	}
}
