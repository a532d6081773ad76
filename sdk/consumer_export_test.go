package sdk

import "time"

// SetConsumerPacing shortens a consumer's first idle and retry waits so
// that tests of retries and idle polls run fast. Call it before Poll.
func SetConsumerPacing(k *Consumer, idleFirst, retryFirst time.Duration) {
	k.idleFirst, k.retryFirst = idleFirst, retryFirst
}

// ConsumerIdleWaits returns the idle pacing constants for the request-bound
// test.
func ConsumerIdleWaits() (first, max time.Duration) { return idleWaitFirst, idleWaitMax }

// ConsumerMaxDupRun is how many replies of only redeliveries one Poll
// follows at once before it paces its requests.
func ConsumerMaxDupRun() int { return maxDupRun }
