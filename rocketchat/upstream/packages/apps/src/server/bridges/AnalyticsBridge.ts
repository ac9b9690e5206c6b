import type { IAnalyticsEvent } from '@rocket.chat/apps-engine/definition/accessors/IAnalyticsModify';

import { BaseBridge } from './BaseBridge';
import { PermissionDeniedError } from '../errors/PermissionDeniedError';
import { AppPermissionManager } from '../managers/AppPermissionManager';
import { AppPermissions } from '../permissions/AppPermissions';

export abstract class AnalyticsBridge extends BaseBridge {
	public async doLogEvent(event: IAnalyticsEvent, appId: string): Promise<string | undefined> {
		if (this.hasWritePermission(appId)) {
			return this.logEvent(event, appId);
		}

		return undefined;
	}

	protected abstract logEvent(event: IAnalyticsEvent, appId: string): Promise<string>;

	private hasWritePermission(appId: string): boolean {
		if (AppPermissionManager.hasPermission(appId, AppPermissions.analytics.write)) {
			return true;
		}

		AppPermissionManager.notifyAboutError(
			new PermissionDeniedError({
				appId,
				missingPermissions: [AppPermissions.analytics.write],
			}),
		);

		return false;
	}
}
