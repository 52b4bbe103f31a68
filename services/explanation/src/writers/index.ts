export * from './explanation-writer.js';
export * from './model-call-budget.js';
export * from './openai-explainer.js';
export * from './template-explainer.js';
export * from './sentence.js';
export * from './prompt.js';
export * from './create-explanation-writer.js';
export * from './answer-check.js';
