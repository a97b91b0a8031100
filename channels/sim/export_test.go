package sim

// PickUndelivered exposes the undelivered choice to the tests of package sim_test.
var PickUndelivered = pickUndelivered
