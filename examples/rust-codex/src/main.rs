fn main() {
    println!("hello from the rust toolchain");
}
