// The server's implementation, registered with Rocket.Chat's RealAppBridges
// (apps/meteor/app/apps/server/bridges/bridges.ts) next to the other App*Bridge
// classes. The Apps-Engine has already checked the `analytics.write` permission;
// rocketchat-sns-analytics's AppsEngineBridge adds the per-app rate limit and stamps
// the event with the App's id (the `appId` message attribute).
import { AnalyticsBridge } from './AnalyticsBridge';
import type { IAnalyticsEvent } from './IAnalyticsModify';

/** The part of rocketchat-sns-analytics's AppsEngineBridge used here. */
export interface AnalyticsShim {
    doLogEvent(event: IAnalyticsEvent, appId: string): Promise<string>;
}

export class AppAnalyticsBridge extends AnalyticsBridge {
    /** `shim()` gives the current AppsEngineBridge, or null while analytics are off. */
    constructor(private readonly shim: () => AnalyticsShim | null) {
        super();
    }

    protected async logEvent(event: IAnalyticsEvent, appId: string): Promise<string> {
        const shim = this.shim();
        if (!shim) {
            throw new Error('SNS analytics are switched off (SNS_Analytics_Enabled)');
        }
        return shim.doLogEvent(event, appId);
    }
}
