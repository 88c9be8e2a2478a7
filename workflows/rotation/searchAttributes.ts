import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Registered on the server by `npm run stack:up` (and by `temporal operator search-attribute create` in production). */
export const RotationComponent = defineSearchAttributeKey('RotationComponent', SearchAttributeType.KEYWORD);
export const RotationTarget = defineSearchAttributeKey('RotationTarget', SearchAttributeType.KEYWORD);
export const RotationPhase = defineSearchAttributeKey('RotationPhase', SearchAttributeType.KEYWORD);
