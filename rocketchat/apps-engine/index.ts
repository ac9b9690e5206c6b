export { AnalyticsBridge } from './AnalyticsBridge';
export { AnalyticsModify } from './AnalyticsModify';
export { AppAnalyticsBridge } from './AppAnalyticsBridge';
export type { AnalyticsShim } from './AppAnalyticsBridge';
export type { IAnalyticsEvent, IAnalyticsModify } from './IAnalyticsModify';
export { AnalyticsPermissions } from './permissions';
