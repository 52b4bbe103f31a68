import type { ApiResponseOptions } from '@nestjs/swagger';

const error = (status: number, example: string): ApiResponseOptions => ({
  status,
  description: example,
  schema: {
    type: 'object',
    required: ['statusCode', 'error', 'message'],
    properties: {
      statusCode: { type: 'integer', example: status },
      error: { type: 'string' },
      message: { type: 'string', example },
    },
  },
});

export const errorResponses = {
  badRequest: error(400, 'top_n must be an integer from 1 to 100'),
  notFound: error(404, 'user 99999 has no purchase history'),
  unavailable: error(503, 'the recommendation service is unavailable'),
};

const explanationFields = {
  explanation: {
    type: 'string',
    nullable: true,
    example: 'It matches the hanging hearts and lanterns you bought.',
  },
  explanation_status: { type: 'string', enum: ['pending', 'ready', 'failed'] },
  explanation_source: { type: 'string', enum: ['llm', 'template'], nullable: true },
};

export const schemas = {
  usersPage: {
    type: 'object',
    required: ['total', 'users'],
    properties: {
      total: { type: 'integer', example: 4339 },
      users: {
        type: 'array',
        items: {
          type: 'object',
          required: ['user_id', 'products_bought', 'country'],
          properties: {
            user_id: { type: 'string', example: '17850' },
            products_bought: { type: 'integer', example: 21 },
            country: { type: 'string', example: 'United Kingdom' },
          },
        },
      },
    },
  },
  purchases: {
    type: 'object',
    required: ['user_id', 'purchases'],
    properties: {
      user_id: { type: 'string' },
      purchases: {
        type: 'array',
        items: {
          type: 'object',
          required: ['product_id', 'description', 'times_bought', 'last_purchased_at'],
          properties: {
            product_id: { type: 'string', example: '85123A' },
            description: { type: 'string', example: 'WHITE HANGING HEART T-LIGHT HOLDER' },
            times_bought: { type: 'integer', example: 34 },
            last_purchased_at: { type: 'string', example: '2011-02-10T14:38:00' },
          },
        },
      },
    },
  },
  recommendations: {
    type: 'object',
    required: ['user_id', 'model', 'basis', 'recommendations'],
    properties: {
      user_id: { type: 'string' },
      model: {
        type: 'string',
        description: 'the model that ranked this list',
        example: 'hybrid-v1+Qwen/Qwen3-Embedding-0.6B',
      },
      basis: {
        type: 'string',
        enum: ['description', 'copurchase', 'hybrid'],
        description:
          'what the picks are based on: product descriptions, what customers bought together, or both (RECOMMENDER_MODEL)',
      },
      fallback: {
        type: 'string',
        description:
          'set when the configured model could not rank for this customer (too few purchases it knows, not trained yet) and the description model did',
      },
      reason: { type: 'string', description: 'why the list is empty, when it is' },
      recommendations: {
        type: 'array',
        items: {
          type: 'object',
          required: [
            'product_id',
            'description',
            'score',
            'explanation',
            'explanation_status',
            'explanation_source',
          ],
          properties: {
            product_id: { type: 'string' },
            description: { type: 'string' },
            score: {
              type: 'number',
              description:
                'description model: cosine similarity, -1..1; co-purchase and hybrid: inner product, higher is better',
            },
            ...explanationFields,
          },
        },
      },
    },
  },
  explanations: {
    type: 'object',
    required: ['user_id', 'explanations'],
    properties: {
      user_id: { type: 'string' },
      explanations: {
        type: 'array',
        items: {
          type: 'object',
          required: ['product_id', 'explanation', 'explanation_status', 'explanation_source'],
          properties: { product_id: { type: 'string' }, ...explanationFields },
        },
      },
    },
  },
};
