// packages/apps/tests/test-data/bridges/appBridges.ts after this pull request (TestsAppBridges,
// read at @2727e8bddf197a81fbc280f168112b652bc022e7), reduced to the bridge the pull request adds;
// every other getter throws.
import { TestsAnalyticsBridge } from './analyticsBridge';
import { UnmodelledAppBridges } from '../../../../../_standin/UnmodelledAppBridges';
import type {
	AnalyticsBridge,
} from '../../../src/server/bridges';

export class TestsAppBridges extends UnmodelledAppBridges {
	private readonly analyticsBridge: TestsAnalyticsBridge;

	constructor() {
		super();
		this.analyticsBridge = new TestsAnalyticsBridge();
	}

	public getAnalyticsBridge(): AnalyticsBridge {
		return this.analyticsBridge;
	}
}
