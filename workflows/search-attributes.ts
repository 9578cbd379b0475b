import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes on every event workflow, so operators can filter in the Temporal UI:
 * `EmployeeId="…" AND EventStatus="failed"`. The dev stack registers them at launch; a production
 * cluster needs `temporal operator search-attribute create` once (see README).
 */
export const ACCOUNT_ID = defineSearchAttributeKey('AccountId', SearchAttributeType.KEYWORD);
export const EMPLOYEE_ID = defineSearchAttributeKey('EmployeeId', SearchAttributeType.KEYWORD);
export const EVENT_TYPE = defineSearchAttributeKey('EventType', SearchAttributeType.KEYWORD);
export const EVENT_STATUS = defineSearchAttributeKey('EventStatus', SearchAttributeType.KEYWORD);

/** `--search-attribute` arguments for `temporal server start-dev`. */
export const DEV_SERVER_SEARCH_ATTRIBUTES = ['AccountId', 'EmployeeId', 'EventType', 'EventStatus'].map(
  (name) => `${name}=Keyword`,
);
