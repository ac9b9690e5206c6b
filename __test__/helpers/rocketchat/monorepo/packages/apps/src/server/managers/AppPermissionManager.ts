// packages/apps/src/server/managers/AppPermissionManager.ts@8ace62aeb244e378717158100eda59e23bf08b10
// (unchanged): hasPermission(appId, permission) looks the App's granted permissions up through
// AppManager's getPermissionsByAppId, and notifyAboutError prints a PermissionDeniedError with
// the App's call stack. @rocket.chat/apps-engine@1.62.0's class does the same and is used as it is.
export { AppPermissionManager } from 'apps-engine-1.62/server/managers/AppPermissionManager';
