// packages/apps/src/server/errors/PermissionDeniedError.ts@85e78be58bee974bf97c90c5107cc913179e8800
// (unchanged): the same constructor ({ appId, missingPermissions, methodName?, reason?, message? })
// as @rocket.chat/apps-engine@1.62.0's class, re-exported from it.
export { PermissionDeniedError } from 'apps-engine-1.62/server/errors/PermissionDeniedError';
