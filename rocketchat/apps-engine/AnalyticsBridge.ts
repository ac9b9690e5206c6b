// The Apps-Engine bridge for analytics, in the pattern of its bridges
// (packages/apps-engine/src/server/bridges/, e.g. ContactBridge.ts): an abstract
// class extending BaseBridge whose public `do` method checks the App's permission
// with AppPermissionManager.hasPermission (the permission's declaration, or
// `undefined`), reports a denial through AppPermissionManager.notifyAboutError with a
// PermissionDeniedError and resolves `undefined` instead of rejecting, and only then
// calls the protected abstract method the host implements.
import { BaseBridge } from '@rocket.chat/apps-engine/server/bridges/BaseBridge';
import { PermissionDeniedError } from '@rocket.chat/apps-engine/server/errors/PermissionDeniedError';
import { AppPermissionManager } from '@rocket.chat/apps-engine/server/managers/AppPermissionManager';

import type { IAnalyticsEvent } from './IAnalyticsModify';
import { AnalyticsPermissions } from './permissions';

export abstract class AnalyticsBridge extends BaseBridge {
    public async doLogEvent(event: IAnalyticsEvent, appId: string): Promise<string | undefined> {
        if (this.hasWritePermission(appId)) {
            return this.logEvent(event, appId);
        }
        return undefined;
    }

    protected abstract logEvent(event: IAnalyticsEvent, appId: string): Promise<string>;

    private hasWritePermission(appId: string): boolean {
        if (AppPermissionManager.hasPermission(appId, AnalyticsPermissions.analytics.write)) {
            return true;
        }
        AppPermissionManager.notifyAboutError(
            new PermissionDeniedError({
                appId,
                missingPermissions: [AnalyticsPermissions.analytics.write],
            }),
        );
        return false;
    }
}
