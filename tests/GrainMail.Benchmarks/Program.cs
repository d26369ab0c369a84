// Filled in below (delivery throughput, large mailbox); see docs/benchmarks.md.
return 0;
