import { applyTestEnvironment } from './test-env.js';

applyTestEnvironment();
