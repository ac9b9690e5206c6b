// The accessor behind `modify.getAnalytics()` for one App: it calls the bridge with
// the App's id, as the Apps-Engine's accessors do (e.g. ModifyCreator in
// packages/apps-engine/src/server/accessors/). Upstream the bridge comes from
// AppBridges (a getAnalyticsBridge() getter); in the Deno runtime, the App's call
// reaches it as `bridges:getAnalyticsBridge:doLogEvent`.
import type { AnalyticsBridge } from './AnalyticsBridge';
import type { IAnalyticsEvent, IAnalyticsModify } from './IAnalyticsModify';

export class AnalyticsModify implements IAnalyticsModify {
    constructor(
        private readonly bridge: AnalyticsBridge,
        private readonly appId: string,
    ) {}

    public logEvent(event: IAnalyticsEvent): Promise<string | undefined> {
        return this.bridge.doLogEvent(event, this.appId);
    }
}
