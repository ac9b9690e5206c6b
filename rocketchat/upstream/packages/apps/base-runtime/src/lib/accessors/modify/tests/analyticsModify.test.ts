import * as assert from 'node:assert';
import { describe, it } from 'node:test';

import { createRecordingSender } from '../../tests/helpers/parityHarness';
import { AnalyticsModify } from '../AnalyticsModify';

describe('AnalyticsModify (base-runtime)', () => {
	it('logEvent forwards the event with the APP_ID sentinel as the caller identity', async () => {
		const rec = createRecordingSender({ 'bridges:getAnalyticsBridge:doLogEvent': 'event-1' });
		const event = { category: 'Survey', action: 'link_clicked', roomId: 'r1', properties: { rating: 5 } };

		assert.strictEqual(await new AnalyticsModify(rec.sender).logEvent(event), 'event-1');
		assert.deepStrictEqual(rec.emitted(), [{ method: 'bridges:getAnalyticsBridge:doLogEvent', params: [event, 'APP_ID'] }]);
	});

	it('sends the sentinel even when the event names an app', async () => {
		const rec = createRecordingSender();
		await new AnalyticsModify(rec.sender).logEvent({ category: 'c', action: 'a', properties: { appId: 'other-app' } });

		assert.deepStrictEqual(rec.emitted()[0].params, [{ category: 'c', action: 'a', properties: { appId: 'other-app' } }, 'APP_ID']);
	});

	it('resolves undefined when the host answers null (the App lacks analytics.write)', async () => {
		const rec = createRecordingSender();

		assert.strictEqual(await new AnalyticsModify(rec.sender).logEvent({ category: 'c', action: 'a' }), undefined);
	});

	it('rejects with the message of the host error', async () => {
		const sender = (() => Promise.reject({ error: { message: 'Invalid bridge request', code: 1000 } })) as any;

		await assert.rejects(() => new AnalyticsModify(sender).logEvent({ category: 'c', action: 'a' }), { message: 'Invalid bridge request' });
	});
});
