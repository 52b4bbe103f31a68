import type { LlmConfig } from '@retail/common';
import type { ExplanationWriter } from './explanation-writer.js';
import { OpenAiExplainer, type OpenAiExplainerOptions } from './openai-explainer.js';
import { TemplateExplainer } from './template-explainer.js';

/** The writer LLM_PROVIDER names (`template` by default when no key is set). */
export function createExplanationWriter(
  config: LlmConfig,
  options: OpenAiExplainerOptions = {},
): ExplanationWriter {
  return config.provider === 'openai' ? new OpenAiExplainer(config, options) : new TemplateExplainer();
}
