// packages/apps-engine/src/definition/metadata/AppPermissions.ts after this pull request: the table
// of @rocket.chat/apps-engine@1.66.0 (definition/metadata/AppPermissions.js, the same entries as
// AppPermissions.ts@028a7ebc716bd682c66149b5df1b1025bebb68db less its post-1.66.0 'mediaCall'),
// with the entry the pull request appends. defaultPermissions is 1.66.0's, unchanged.
import { AppPermissions as PublishedAppPermissions, defaultPermissions } from 'apps-engine-1.66/definition/metadata/AppPermissions';

export const AppPermissions = {
	...PublishedAppPermissions,
	'analytics': {
		write: { name: 'analytics.write' },
	},
};

export { defaultPermissions };
