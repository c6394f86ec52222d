// EXPERIMENT ONLY (npm run bench -- --targets ...,product-nodelay): loaded into
// the product's processes with NODE_OPTIONS=--import, it turns TCP_NODELAY on
// for every socket, overriding clients that leave Nagle's algorithm on
// (amqplib does unless connected with { noDelay: true }). It measures what
// that one client option is worth without touching src/.
import net from "node:net";

const setNoDelay = net.Socket.prototype.setNoDelay;
net.Socket.prototype.setNoDelay = function () {
  return setNoDelay.call(this, true);
};
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const socket = connect.apply(this, args);
  setNoDelay.call(this, true);
  return socket;
};
