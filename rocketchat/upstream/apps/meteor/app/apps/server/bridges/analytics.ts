import type { IAppServerOrchestrator } from '@rocket.chat/apps';
import { AnalyticsBridge } from '@rocket.chat/apps/dist/server/bridges/AnalyticsBridge';
import type { IAnalyticsEvent } from '@rocket.chat/apps-engine/definition/accessors';
import { appsBridge } from 'rocketchat-sns-analytics/rocketchat';

import { snsAnalytics } from '../../../../server/lib/snsAnalytics';

export class AppAnalyticsBridge extends AnalyticsBridge {
	// The package's Apps side of the server's one analytics controller: it keeps each App's rate
	// limit for as long as the running logger lives, refuses what the server's own hooks or the
	// widget log (one owner per event), and makes a room's start or close one event with the hooks'
	// and the widget's reports of it. No permission check of its own: AnalyticsBridge.doLogEvent has
	// checked analytics.write.
	private readonly analytics = appsBridge(snsAnalytics);

	constructor(private readonly orch: IAppServerOrchestrator) {
		super();
	}

	protected async logEvent(event: IAnalyticsEvent, appId: string): Promise<string> {
		this.orch.debugLog(`The App ${appId} is logging an analytics event`);

		return this.analytics.doLogEvent(event, appId);
	}
}
