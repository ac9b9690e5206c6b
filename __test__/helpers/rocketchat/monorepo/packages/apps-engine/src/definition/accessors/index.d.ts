// packages/apps-engine/src/definition/accessors/index.ts after this pull request, for the type
// checker: every export of @rocket.chat/apps-engine@1.66.0's definition/accessors/index.d.ts, and
// the line the pull request appends. Declarations only: at run time 1.66.0's index.js is used as
// it is (IAnalyticsModify carries no values).
export type * from 'apps-engine-1.66/definition/accessors';
export type { IModify } from './IModify';
export type * from './IAnalyticsModify';
