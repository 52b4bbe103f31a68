import { z } from 'zod';

/** Every error of the API: a status that says what happened, a reason, a message; never a stack trace. */
export const errorBody = z
  .object({
    statusCode: z.number().int(),
    error: z.string(),
    message: z.string(),
  })
  .meta({ id: 'Error' });

export type ErrorBody = z.infer<typeof errorBody>;
