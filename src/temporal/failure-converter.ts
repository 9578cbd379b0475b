import { DefaultFailureConverter } from '@temporalio/common';

/**
 * Loaded by path (FAILURE_CONVERTER_PATH in codec.ts) by the SDK in clients, workers and the workflow
 * sandbox, so it imports nothing but the SDK. Failure messages and stack traces (a receiver's answer, a
 * model provider's error) go into an encoded payload that the payload codec encrypts.
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
