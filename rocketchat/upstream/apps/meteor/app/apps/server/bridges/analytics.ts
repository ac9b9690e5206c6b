import type { IAppServerOrchestrator } from '@rocket.chat/apps';
import { AnalyticsBridge } from '@rocket.chat/apps/dist/server/bridges/AnalyticsBridge';
import { AppPermissionManager } from '@rocket.chat/apps/dist/server/managers/AppPermissionManager';
import { AppPermissions } from '@rocket.chat/apps/dist/server/permissions/AppPermissions';
import type { IAnalyticsEvent } from '@rocket.chat/apps-engine/definition/accessors';
import { appsBridge } from 'rocketchat-sns-analytics/rocketchat';

import { snsAnalytics } from '../../../../server/lib/snsAnalytics';

export class AppAnalyticsBridge extends AnalyticsBridge {
	// The package's Apps side of the server's one analytics controller: it keeps each App's rate
	// limit for as long as the running logger lives, refuses what the server's own hooks or the
	// widget log (one owner per event), and makes a room's start or close one event with the hooks'
	// and the widget's reports of it. The package's bridge refuses every App unless it is given a
	// permission check: it gets the same one AnalyticsBridge.doLogEvent makes before calling logEvent.
	private readonly analytics = appsBridge(snsAnalytics, {
		// hasPermission answers the granted permission, or undefined.
		hasPermission: (appId) => Boolean(AppPermissionManager.hasPermission(appId, AppPermissions.analytics.write)),
	});

	constructor(private readonly orch: IAppServerOrchestrator) {
		super();
	}

	protected async logEvent(event: IAnalyticsEvent, appId: string): Promise<string> {
		this.orch.debugLog(`The App ${appId} is logging an analytics event`);

		return this.analytics.doLogEvent(event, appId);
	}
}
