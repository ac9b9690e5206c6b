import { Logger } from '@rocket.chat/logger';
import { bindSettings } from 'rocketchat-sns-analytics/rocketchat';

import { settings } from '../settings';

const logger = new Logger('SNSAnalytics');

/**
 * The analytics logger, kept in step with the `SNS_Analytics_*` settings: `snsAnalytics.logger` is
 * null while they switch analytics off. Apps log through it (`AppAnalyticsBridge`).
 */
export const snsAnalytics = bindSettings(settings, {
	onError: (err) => logger.warn({ msg: 'SNS analytics', err }),
});
