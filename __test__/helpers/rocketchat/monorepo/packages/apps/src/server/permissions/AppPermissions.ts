// packages/apps/src/server/permissions/AppPermissions.ts@8ace62aeb244e378717158100eda59e23bf08b10
// (unchanged): the server's bridges read the definitions' table, re-exported.
export { AppPermissions, defaultPermissions } from '@rocket.chat/apps-engine/definition/metadata/AppPermissions';
