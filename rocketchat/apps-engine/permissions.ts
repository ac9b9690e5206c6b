// The permission an App declares in its app.json to log analytics events. Upstream it
// is an entry of AppPermissions (packages/apps-engine/src/server/permissions/
// AppPermissions.ts), whose naming rule is `'scope-name': { 'permission-name':
// { name: 'scope-name.permission-name' } }`, with the i18n key
// Apps_Permissions_analytics_write for the admin's consent screen.
import type { IPermission } from '@rocket.chat/apps-engine/definition/permissions/IPermission';

export const AnalyticsPermissions: { analytics: { write: IPermission } } = {
    analytics: {
        write: { name: 'analytics.write' },
    },
};
