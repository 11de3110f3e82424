// The smallest Swift program: the start-up floor binfmtctl is compared with (bench/run.sh).
print("0.1.0")
